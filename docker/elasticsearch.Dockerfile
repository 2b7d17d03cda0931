# Elasticsearch with the smartcn analyzer for Chinese message search.
FROM docker.elastic.co/elasticsearch/elasticsearch:9.1.5
RUN bin/elasticsearch-plugin install --batch analysis-smartcn
