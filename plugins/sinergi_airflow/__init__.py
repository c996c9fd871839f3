"""Airflow-specific glue for Sinergi: the task-group factory, Assets and callbacks used by ``dags/``.

Kept out of the core package (``include/sinergi``) so that the core never imports Airflow, and out
of ``dags/`` so that DAG files stay thin and declarative.
"""
