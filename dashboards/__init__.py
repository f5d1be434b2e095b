"""dashboards: generates the Grafana dashboards and alert rules provisioned from provisioning/grafana/."""
