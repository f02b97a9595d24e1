"""The HTTP API (FirstOfficer V2 compatible) over the stored data and metrics."""
