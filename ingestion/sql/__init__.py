"""SQL (MES/ERP) ingestion."""
