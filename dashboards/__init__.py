"""dashboards: generates the Grafana dashboards and alert rules under provisioning/grafana/.

Run ``python -m dashboards`` to regenerate the files and ``python -m dashboards --check`` to
verify the committed ones; docs/grafana.md explains the layout.
"""
