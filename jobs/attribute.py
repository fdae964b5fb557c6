"""spark-submit / Databricks launcher: `spark-submit jobs/attribute.py --env cluster`."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["attribute", *sys.argv[1:]]))
