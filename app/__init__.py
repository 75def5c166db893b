"""昆如意 business-service assistant: policy Q&A over a curated corpus."""
