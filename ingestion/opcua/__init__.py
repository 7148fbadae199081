"""OPC UA ingestion."""
