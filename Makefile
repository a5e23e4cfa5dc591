# The two commands of README.md. The logic lives in scripts/, so it reads as plain shell.
.PHONY: run test

# Migrate the embedded database, seed the demo, run the worker and the web hub on :5000.
run:
	@bash scripts/run.sh

# Install what the suite needs, use PostgreSQL and Redis when they answer, run every test.
test:
	@bash scripts/test.sh
