"""MQTT ingestion: unified-namespace JSON and Sparkplug B."""
