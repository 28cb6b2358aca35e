"""Plain Sigma REST API client (no Airflow imports)."""
