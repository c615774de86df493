"""Small pieces shared by the dashboard pages: status badges, event rendering, charts, cards."""
