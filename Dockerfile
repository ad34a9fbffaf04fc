# syntax=docker/dockerfile:1
# Build stage: a virtualenv with mailer and its dependencies, no compilers in the final image.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/mailer
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY mailer ./mailer
COPY migrations ./migrations
COPY templates ./templates
RUN /opt/mailer/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/mailer/bin/pip install --no-cache-dir .

# Runtime stage: slim, non-root, production mode by default.
FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/mailer --uid 10001 mailer
COPY --from=build /opt/mailer /opt/mailer
ENV PATH=/opt/mailer/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MAILER_ENV=production \
    MAILER_LISTEN=0.0.0.0:8080 \
    MAILER_DATA_DIR=/var/lib/mailer
USER mailer
WORKDIR /var/lib/mailer
EXPOSE 8080
# The probe asks where MAILER_LISTEN says (a port or address set at run time included).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, sys, urllib.request as u; h, _, p = os.environ.get('MAILER_LISTEN', '0.0.0.0:8080').rpartition(':'); h = h.strip('[]'); h = '127.0.0.1' if h in ('', '0.0.0.0', '::') else h; h = f'[{h}]' if ':' in h else h; sys.exit(0 if u.urlopen(f'http://{h}:{p}/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["mailer"]
CMD ["serve"]
