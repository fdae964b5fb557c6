"""spark-submit / Databricks launcher: `spark-submit jobs/feeds.py --env cluster`."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["feeds", *sys.argv[1:]]))
