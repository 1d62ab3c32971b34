"""Repository root conftest: makes the `devkit` harness importable for every test tier."""
