"""The API's routers, one module per resource; `etl.api.app` mounts them."""
