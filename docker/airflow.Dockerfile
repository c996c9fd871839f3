# Sinergi's Airflow image: the official Airflow 3.3.2 image (Python 3.11; it already ships the
# celery, redis, postgres and fab providers used by docker-compose.yaml) plus the pinned runtime
# dependencies of requirements.txt. The code itself (dags/, plugins/, include/, expectations/) is
# mounted by docker-compose.yaml, so editing a DAG needs no rebuild.
FROM apache/airflow:3.3.2-python3.11

COPY requirements.txt /tmp/sinergi-requirements.txt
# apache-airflow is pinned to the image's own version in requirements.txt, so pip keeps it.
RUN pip install --no-cache-dir -r /tmp/sinergi-requirements.txt

# the seaweedfs-conf volume's mount point, owned by the airflow user (a new named volume takes it over)
RUN mkdir -p /opt/airflow/seaweedfs-conf && chmod 700 /opt/airflow/seaweedfs-conf

# the core package `sinergi` lives in include/ (mounted at /opt/airflow/include)
ENV PYTHONPATH=/opt/airflow/include
