"""diffkit's built-in components. Each subpackage is a plugin, declared as an
entry point of the ``diffkit`` group in diffkit's pyproject.toml and loaded exactly
like a third-party plugin."""
