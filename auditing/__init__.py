"""The alt-text and SEO audit: checks per image, suggested alt text and file names."""

from auditing.checks import AuditSettings, audit_page
from auditing.registry import ISSUES, SEVERITIES, Issue, at_least, severity_at_least

__all__ = ["ISSUES", "SEVERITIES", "AuditSettings", "Issue", "at_least", "audit_page", "severity_at_least"]
