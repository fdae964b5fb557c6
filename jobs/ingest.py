"""spark-submit / Databricks launcher: `spark-submit jobs/ingest.py --env cluster`."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
