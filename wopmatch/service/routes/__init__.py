"""The service's routes, one router per concern: the page and health, instances
(validate), jobs (submit, follow, cancel) and results (solutions, workbook, report,
scenario tables)."""
