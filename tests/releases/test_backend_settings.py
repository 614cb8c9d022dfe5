"""An environment's deploy backend and settings are checked when saved (admin or clean()),
so a typo is a clear form error rather than a failed deployment later."""

import pytest
from django.core.exceptions import ValidationError

from releases.backends import BACKENDS
from releases.models import Environment


@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend, settings, message",
    [
        ("kubernetes", {}, "Unknown backend"),
        ("docker", {"dockr_host": "unix:///x"}, "unknown setting(s) dockr_host for docker"),
        ("docker", {"env": ["A=1"]}, "env has the wrong type for docker"),
        ("docker", {"strategy": "yolo"}, "strategy must be start-first or stop-first"),
        ("docker", {"ports": {"8000/tcp": 8080}}, "cannot be shared"),
        ("swarm", {"services": "blog_web"}, "services has the wrong type for swarm"),
        ("noop", {"docker_host": "unix:///x"}, "unknown setting(s) docker_host for noop"),
    ],
)
def test_bad_backend_settings_are_refused_on_save(backend, settings, message):
    staging = Environment.objects.get(slug="staging")
    staging.deploy_backend, staging.deploy_settings = backend, settings
    with pytest.raises(ValidationError) as error:
        staging.full_clean()
    assert message in str(error.value)


@pytest.mark.django_db
def test_good_settings_pass_for_every_backend():
    staging = Environment.objects.get(slug="staging")
    good = {
        "noop": {"check_commit": False},
        "docker": {
            "docker_host": "tcp://10.0.0.5:2376",
            "tls": {"ca_cert": "/ca.pem", "client_cert": "/c.pem", "client_key": "/k.pem"},
            "env": {"ALLOWED_HOSTS": "blog.example.com"},
            "secret_env": {"SECRET_KEY": "STAGING_SECRET_KEY"},
            "ports": {"8000/tcp": 8080},
            "strategy": "stop-first",
            "network_mode": "bridge",
            "health_timeout": 60,
        },
        "swarm": {"stack": "blog", "update": {"monitor": 10}, "smoke_paths": [["/", 200]]},
    }
    assert set(good) == set(BACKENDS)
    for backend, settings in good.items():
        staging.deploy_backend, staging.deploy_settings = backend, settings
        staging.full_clean()


@pytest.mark.django_db
def test_the_admin_form_shows_the_error_and_saves_nothing(client, superuser):
    client.force_login(superuser)
    staging = Environment.objects.get(slug="staging")
    url = f"/admin/releases/environment/{staging.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {
            "deploy_backend": "docker",
            "deploy_settings": '{"dockr_host": "unix:///x"}',
            "freeze_windows": "[]",
            "required_stages": "[]",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "unknown setting(s) dockr_host" in response.content.decode()
    staging.refresh_from_db()
    assert staging.deploy_backend == "noop"
