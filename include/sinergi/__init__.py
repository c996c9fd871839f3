"""Sinergi: the data pipeline of the KP2MI–Lampung migrant-worker data-sharing agreement.

A plain Python package (no Airflow imports): sources, schemas, validation, pseudonymisation,
sharing policy, publishing, the source simulator and the CLI. DAGs in ``dags/`` wire it together.
"""

__version__ = "0.1.0"
