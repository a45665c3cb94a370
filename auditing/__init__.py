"""The alt-text and SEO audit: checks per image, suggested alt text and file names."""

from auditing.checks import AuditSettings, audit_page
from auditing.registry import ISSUES, SEVERITIES, Issue, severity_at_least

__all__ = ["ISSUES", "SEVERITIES", "AuditSettings", "Issue", "audit_page", "severity_at_least"]
