"""What operators see: every reply's figures summed per day, what people ask (with their
consent), and the dashboard made of them."""
