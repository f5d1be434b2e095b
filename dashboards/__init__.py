"""dashboards: generates the Grafana dashboards and alert rules under provisioning/grafana/.

Run ``aqm grafana generate`` to regenerate the files and ``aqm grafana generate --check`` to
verify the committed ones; docs/grafana.md explains the layout.
"""
