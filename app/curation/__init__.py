"""Issue 16: staff close the loop — corrected answers (标注回复), 命中测试, the conversation log,
document versions (diff, rollback), review before publishing and the dashboard charts.

Everything lives in this folder; the rest of the app has small hooks only: ChatService.curated
(served before retrieval), JobRunner.before_activate (the review gate), the ``reviewer`` role in
app/admin/auth.py and the router included by app/main.py.
"""
