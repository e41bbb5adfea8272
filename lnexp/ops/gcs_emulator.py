"""A GCS emulator on a loopback port, and the environment that points every client at it.

  python -m lnexp.ops.gcs_emulator [PORT] [BUCKET]    (pip install gcp-storage-emulator)

prints the environment to export, then serves until stopped. It adds to
`gcp-storage-emulator` generation preconditions and `x-goog-generation`
(docs/scaling.md). The tests start it in a subprocess (tests/gcs_emulator.py).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

BUCKET = 'lnexp-test'


def env(url: str) -> dict[str, str]:
  """Environment variables that point gcsfs, google-cloud-storage and
  tensorstore at the emulator at `url`, with no credentials and no probes."""
  return {
      'STORAGE_EMULATOR_HOST': url,          # gcsfs, google-cloud-storage
      'TENSORSTORE_GCS_HTTP_URL': url,       # tensorstore (orbax)
      'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'x',  # tensorstore's auth
      'GOOGLE_CLOUD_PROJECT': 'test',
      **NO_PROBES,  # no metadata server (it would be loopback anyway), no gRPC probe
  }


# Read at import by gcsfs (its bucket-type probe calls Google over gRPC) and by
# google-auth (whether and where to probe the metadata server): set them first.
NO_PROBES = {'NO_GCE_CHECK': 'true', 'GCE_METADATA_HOST': '127.0.0.1:9',
             'GCE_METADATA_IP': '127.0.0.1:9', 'GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT': 'false'}
for _key, _value in NO_PROBES.items():
  os.environ.setdefault(_key, _value)


def serve(port: int, bucket: str) -> None:
  """Runs gcp-storage-emulator in memory, with generation preconditions."""
  from http import HTTPStatus

  try:
    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects
  except ImportError:
    sys.exit('lnexp.ops.gcs_emulator: error: needs gcp-storage-emulator (pip install '
             'gcp-storage-emulator, or the [test] extra)')

  def precondition_failed(request, storage, object_id) -> bool:
    want = request.query.get('ifGenerationMatch')
    if not want or object_id is None:
      return False
    try:
      current = int(storage.get_file_obj(request.params['bucket_name'], object_id)
                    ['generation'])
    except NotFound:
      current = 0
    return current != int(want[0])

  def insert_name(request):
    if 'name' in request.query:
      return request.query['name'][0]
    data = request.data
    if isinstance(data, dict):
      return (data.get('meta') or data).get('name')
    return None

  def wrap(handler, object_id):  # one request at a time: check and write never interleave
    def checked(request, response, storage, *args, **kwargs):
      if not precondition_failed(request, storage, object_id(request)):
        return handler(request, response, storage, *args, **kwargs)
      response.status = HTTPStatus.PRECONDITION_FAILED
      response.json({'error': {'code': 412, 'message': 'conditionNotMet',
                               'errors': [{'reason': 'conditionNotMet',
                                           'message': 'Precondition Failed'}]}})
    return checked

  def with_generation(handler):  # GCS names the generation of what it sends
    def download(request, response, storage, *args, **kwargs):
      handler(request, response, storage, *args, **kwargs)
      try:
        obj = storage.get_file_obj(request.params['bucket_name'],
                                   request.params['object_id'])
      except NotFound:
        return
      response['x-goog-generation'] = str(obj['generation'])
      response['x-goog-metageneration'] = str(obj.get('metageneration', '1'))
    return download

  wrapped = {objects.insert: wrap(objects.insert, insert_name),
             objects.delete: wrap(objects.delete, lambda r: r.params['object_id']),
             objects.download: with_generation(objects.download)}
  for _, handlers in server.HANDLERS:
    for method, handler in list(handlers.items()):
      handlers[method] = wrapped.get(handler, handler)
  objects.insert = wrapped[objects.insert]  # the router's fallback for bare uploads
  objects.download = wrapped[objects.download]  # what get(alt=media) calls

  parent = os.getppid()

  def exit_with_parent():  # a crashed test session leaves no emulator behind
    while os.getppid() == parent:
      time.sleep(1)
    os._exit(0)

  threading.Thread(target=exit_with_parent, daemon=True).start()
  server.create_server('127.0.0.1', port, in_memory=True, default_bucket=bucket).run()


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


if __name__ == '__main__':
  port = int(sys.argv[1]) if len(sys.argv) > 1 else free_port()
  bucket = sys.argv[2] if len(sys.argv) > 2 else BUCKET
  for key, value in env(f'http://127.0.0.1:{port}').items():
    print(f'export {key}={value}')
  print(f'# serving gs://{bucket} on 127.0.0.1:{port} (Ctrl-C stops; nothing is kept)',
        flush=True)
  serve(port, bucket)
