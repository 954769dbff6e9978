from tests.core.conftest import fake_registry, home, suite_file  # noqa: F401  (shared fixtures)
