"""Real servers plantlake starts on loopback ports (Mosquitto, PostgreSQL), stopped by PID."""
