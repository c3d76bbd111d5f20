pytest_plugins = ["agentkit.testing.pytest_plugin"]
