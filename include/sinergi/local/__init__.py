"""The developer environment: everything ``sinergi run``/``up``/``down`` and the tests start on one
machine — the embedded object store (``store``), a local Airflow (``localairflow``), the process
supervisor both use (``process``) and the end-of-run summary (``report``).

The pipeline never imports this package (an import-rule test checks it): production runs the same
steps on Airflow workers against a real object store, configured through sinergi.settings.
"""
