"""HTTP edges other than Bolt: the connect flow's routes and pages, health, and later the API."""
