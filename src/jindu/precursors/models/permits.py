"""Online applications (全程网办), issued permits and filings, and their certificates."""
