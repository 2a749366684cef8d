"""Items: the catalogue a tenant sells from, with stock."""
