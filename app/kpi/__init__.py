"""KPIs (考核指标): counts and rates per grid, unit, worker and period, as JSON and CSV."""
