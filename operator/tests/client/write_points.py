"""Writes points into a Grape cluster with the official Python client, as a user would.

    python write_points.py URL COLLECTION COUNT

Creates COLLECTION (4-d, dot product) and upserts COUNT points in batches with wait=True;
point i has the vector [i, 1, -i, 0.5] and the payload {"n": i}. Prints the exact count.
"""

import sys

from qdrant_client import QdrantClient
from qdrant_client.models import Distance, PointStruct, VectorParams

BATCH = 500


def main() -> None:
    url, collection, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = QdrantClient(url=url, timeout=60)
    client.create_collection(collection, vectors_config=VectorParams(size=4, distance=Distance.DOT))
    for start in range(0, count, BATCH):
        points = [
            PointStruct(id=i, vector=[float(i), 1.0, -float(i), 0.5], payload={"n": i})
            for i in range(start, min(start + BATCH, count))
        ]
        client.upsert(collection, points=points, wait=True)
    print(client.count(collection, exact=True).count)


if __name__ == "__main__":
    main()
