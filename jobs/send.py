"""spark-submit / Databricks launcher: `spark-submit jobs/send.py --env cluster`."""

import sys

from reconnect.cli import main

if __name__ == "__main__":
    sys.exit(main(["send", *sys.argv[1:]]))
