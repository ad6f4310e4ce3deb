// Small enhancements htmx cannot do. No inline script anywhere (CSP).
