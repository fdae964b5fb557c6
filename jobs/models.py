"""spark-submit / Databricks launcher: `spark-submit jobs/models.py --env cluster` (dbt build)."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["models", "build", *sys.argv[1:]]))
