"""How riskwatch presents and delivers: templates, formatting and links (render), email (mail).

Shared by alerts/ and reports/, so neither imports the other.
"""
