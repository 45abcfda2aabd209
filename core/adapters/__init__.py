"""How UET invokes outside programs it depends on (git today; agent CLIs and HTTP tools later)."""
