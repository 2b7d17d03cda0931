# Elasticsearch with the smartcn analyzer for Chinese message search.
FROM docker.elastic.co/elasticsearch/elasticsearch:8.15.3
RUN bin/elasticsearch-plugin install --batch analysis-smartcn
