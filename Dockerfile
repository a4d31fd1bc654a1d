# The grader in a Linux container, for instructors on macOS or Windows (or wherever a container is
# easier than a Linux machine). From the repository root:
#
#   docker build -t course-kit .
#   docker run --rm -v course-data:/data course-kit autograder data fetch --mirror https://…/course-data
#   docker run --rm --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#       -v course-data:/data -v "$PWD/submitted:/work/submitted" -v "$PWD/grading:/work/grading" \
#       course-kit autograder grade 01 --submissions /work/submitted --output /work/grading/01
#
# Notebooks run as the ordinary user `grader` in bubblewrap's user namespace; Docker's default
# seccomp and AppArmor profiles forbid creating one, hence the two --security-opt (the container
# itself stays unprivileged). `docker run ... course-kit autograder doctor` shows what is enforced.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home grader && mkdir /data /work && chown grader /data /work
WORKDIR /course
COPY --chown=grader . /course
USER grader
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -e ./student -e ".[cpu]"
ENV PATH=/course/.venv/bin:$PATH COURSE_DATA_DIR=/data COURSE_ROOT=/course TF_CPP_MIN_LOG_LEVEL=3
CMD ["autograder", "doctor"]
