"""`coursekit` command line: the students' course data folder."""

import argparse
import sys

from . import data
from .errors import CourseKitError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="coursekit", description="The Keras course's data, as students get it.")
    commands = parser.add_subparsers(dest="command", required=True)
    data_parser = commands.add_parser("data", help="the course data folder ($COURSE_DATA_DIR, default ~/course-data)")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)
    fetch = data_commands.add_parser("fetch", help="fill the data folder from the course's mirror, checking sha256")
    fetch.add_argument("--mirror", help="folder or http(s) address your instructor gives (default: $COURSE_DATA_MIRROR)")
    data_commands.add_parser("verify", help="check every data file's sha256")
    arguments = parser.parse_args(argv)
    try:
        if not data.STUDENT_MANIFEST:
            raise CourseKitError("this copy of coursekit lists no course data: install the wheel from your instructor's "
                                 "student bundle (`autograder release` writes it)")
        if arguments.data_command == "fetch":
            results = data.fetch(mirror=arguments.mirror)
            for result in results:
                print(f"{result.action:10} {result.path}")
            print(f"{len(results)} files in the course data folder {data.data_dir()}, sha256 checked")
        else:
            print(f"{len(data.verify())} files verified in {data.data_dir()}")
    except CourseKitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
