"""Transport-planning application for the Yangtze River Delta alliance."""
