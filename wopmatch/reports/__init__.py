"""Renderings of a solution for people: result tables (XLSX/CSV) and the HTML report."""
