"""A test-only app: one ordinary and one protected scoped model with an API and UI, used to test the
generic scoping machinery (``for_user``, ``access_object``, break the glass). Installed only by the
test settings; it has no migrations, so its tables are created for the test database only."""
