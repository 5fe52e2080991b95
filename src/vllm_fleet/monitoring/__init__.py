"""The fleet's monitoring: Prometheus's scrape config generated from the inventory, the alert
rules and dashboards kept as data in monitoring/, promtool checks, and `invoke status`."""
