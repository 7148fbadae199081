"""The simulated plant's servers: OPC UA, MQTT (unified namespace and Sparkplug B), MES/ERP database."""
