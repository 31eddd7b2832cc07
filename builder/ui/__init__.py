"""Streamlit pages and the canvas. The only package under builder/ that imports streamlit."""
