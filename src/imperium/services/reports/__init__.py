"""Reports out: the weekly report's figures, its HTML (with inline SVG charts) and PDF, and
the routine that mails it to the configured recipients.

The figures come from a :class:`~imperium.services.reports.ports.ReportStore` (the database
aggregates); a PDF from a :class:`~imperium.services.reports.ports.PdfRenderer` (a headless
browser, when one is installed); mail from a :class:`~imperium.services.reports.ports.ReportMailer`
(SMTP). Adapters implement them; nothing here imports one.
"""
