"""Policy pushes (issue 17): subscriptions, triggers, a push queue in the database and delivery
through the Official Account (subscription and customer-service messages) and WeCom."""
