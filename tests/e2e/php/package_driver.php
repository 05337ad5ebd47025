<?php
/*  Driver for tests/e2e/test_php_package.py: runs a list of operations
 *  with the fastpush package as Composer installed it, and prints one JSON
 *  line per operation.
 *
 *      php package_driver.php VENDOR_AUTOLOAD MODE CONFIG_JSON OPS_JSON
 *
 *  MODE core: the publishers (config: Factory's); laravel: the broadcaster
 *  inside a real Illuminate container (Debian's php-illuminate-*); symfony: a container built from
 *  examples/symfony/config/services.yaml (Debian's php-symfony-*); both
 *  take their values from the environment (FASTPUSH_*), Laravel's from
 *  examples/laravel/config/broadcasting.php (CONFIG_JSON's config_file).
 */
require $argv[1];
$mode = $argv[2];
$config = json_decode($argv[3], true);
$ops = json_decode($argv[4], true);

function fail_of($e)
{
    $out = ['error' => get_class($e), 'message' => $e->getMessage()];
    if ($e instanceof Fastpush\FastpushException)
        $out += ['code' => $e->getErrorCode(), 'status' => $e->getStatus()];
    $p = $e->getPrevious();
    if ($p instanceof Fastpush\FastpushException)
        $out += ['code' => $p->getErrorCode(), 'status' => $p->getStatus()];
    if ($e instanceof Symfony\Component\HttpKernel\Exception\HttpExceptionInterface)
        $out['status'] = $e->getStatusCode();
    return $out;
}

if ($mode === 'laravel') {
    foreach (['Broadcasting', 'Http', 'Container', 'Config'] as $part)
        require_once "/usr/share/php/Illuminate/$part/autoload.php";
    require_once '/usr/share/php/Dotenv/autoload.php';      // env()

    class TestUser
    {
        public $id;
        public $name;
        public function __construct($id) { $this->id = $id; $this->name = "user $id"; }
        public function getAuthIdentifier() { return $this->id; }
    }

    class OrderShipped implements Illuminate\Contracts\Broadcasting\ShouldBroadcast
    {
        public $order;
        public $channels;
        public function __construct($order, $channels)
        {
            $this->order = $order;
            $this->channels = $channels;
        }
        public function broadcastOn()
        {
            return array_map(function ($c) {
                if (strpos($c, 'private-') === 0)
                    return new Illuminate\Broadcasting\PrivateChannel(substr($c, 8));
                if (strpos($c, 'presence-') === 0)
                    return new Illuminate\Broadcasting\PresenceChannel(substr($c, 9));
                return new Illuminate\Broadcasting\Channel($c);
            }, $this->channels);
        }
    }

    $app = new Illuminate\Container\Container();
    Illuminate\Container\Container::setInstance($app);
    // examples/laravel/config/broadcasting.php, its env() from the environment
    $app->instance('config', new Illuminate\Config\Repository(
        ['broadcasting' => require $config['config_file']]));
    $providers = [new Illuminate\Broadcasting\BroadcastServiceProvider($app),
                  new Fastpush\Laravel\FastpushServiceProvider($app)];
    foreach ($providers as $p)
        $p->register();
    foreach ($providers as $p)
        if (method_exists($p, 'boot'))
            $app->call([$p, 'boot']);
    $broadcast = $app->make(Illuminate\Contracts\Broadcasting\Factory::class);
    // examples/laravel/routes/channels.php, through the Broadcast facade
    Illuminate\Support\Facades\Facade::setFacadeApplication($app);
    require dirname($config['config_file'], 2) . '/routes/channels.php';

    foreach ($ops as $op) {
        try {
            if ($op['op'] === 'class') {
                $b = $broadcast->connection();
                $out = ['class' => get_class($b),
                        'contract' => $b instanceof Illuminate\Contracts\Broadcasting\Broadcaster,
                        'publisher' => get_class($app->make(Fastpush\PublisherInterface::class))];
            } elseif ($op['op'] === 'event') {
                // what Laravel's queue worker does with a ShouldBroadcast event
                (new Illuminate\Broadcasting\BroadcastEvent(
                    new OrderShipped($op['order'], $op['channels'])))->handle($broadcast);
                $out = ['ok' => true];
            } elseif ($op['op'] === 'auth') {
                $request = Illuminate\Http\Request::create('/broadcasting/auth', 'POST',
                                                           $op['params']);
                $user = isset($op['user']) ? new TestUser($op['user']) : null;
                $request->setUserResolver(function () use ($user) { return $user; });
                $out = ['answer' => $broadcast->auth($request)];
            }
        } catch (Throwable $e) {
            $out = fail_of($e);
        }
        echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
    }
    exit(0);
}

if ($mode === 'symfony') {
    foreach (['DependencyInjection', 'Config', 'Yaml', 'HttpFoundation'] as $part)
        require_once "/usr/share/php/Symfony/Component/$part/autoload.php";
    $examples = $config['examples'];
    spl_autoload_register(function ($class) use ($examples) {
        if (strncmp($class, 'App\\', 4) === 0) {
            $f = "$examples/src/" . str_replace('\\', '/', substr($class, 4)) . '.php';
            if (is_file($f))
                require $f;
        }
    });
    $c = new Symfony\Component\DependencyInjection\ContainerBuilder();
    $loader = new Symfony\Component\DependencyInjection\Loader\YamlFileLoader(
        $c, new Symfony\Component\Config\FileLocator("$examples/config"));
    $loader->load('services.yaml');
    $c->compile(true);         // %env()% from the environment
    foreach ($ops as $op) {
        try {
            if ($op['op'] === 'class') {
                $svc = $c->get(Fastpush\Symfony\FastpushService::class);
                $out = ['class' => get_class($svc), 'publisher' => get_class($svc->publisher())];
            } elseif ($op['op'] === 'publish') {
                $svc = $c->get(Fastpush\Symfony\FastpushService::class);
                $out = ['id' => $svc->publish($op['channel'], $op['data'],
                        isset($op['event']) ? $op['event'] : null)];
            } elseif ($op['op'] === 'token' || $op['op'] === 'notify') {
                $ctl = $c->get(App\Controller\FastpushController::class);
                $server = isset($op['user']) ? ['PHP_AUTH_USER' => $op['user'],
                                                'PHP_AUTH_PW' => 'x'] : [];
                $request = Symfony\Component\HttpFoundation\Request::create(
                    '/', $op['op'] === 'token' ? 'GET' : 'POST', [], [], [], $server,
                    isset($op['body']) ? json_encode($op['body']) : null);
                $response = $op['op'] === 'token' ? $ctl->token($request)
                                                  : $ctl->notify($request);
                $out = ['status' => $response->getStatusCode(),
                        'body' => json_decode($response->getContent(), true)];
            }
        } catch (Throwable $e) {
            $out = fail_of($e);
        }
        echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
    }
    exit(0);
}

// core: the publishers made by Fastpush\Factory, and the shim
foreach ($ops as $op) {
    try {
        if ($op['op'] === 'publish') {
            $pub = Fastpush\Factory::publisher(array_merge($config,
                isset($op['config']) ? $op['config'] : []));
            $out = ['id' => $pub->publish($op['channel'], $op['data'],
                                          isset($op['options']) ? $op['options'] : []),
                    'class' => get_class($pub)];
        } elseif ($op['op'] === 'classes') {
            $out = [];
            foreach ($op['classes'] as $cls)
                $out[$cls] = class_exists($cls) || interface_exists($cls);
        } elseif ($op['op'] === 'token') {
            $tokens = Fastpush\Factory::tokenIssuer($config);
            $out = ['token' => $tokens->issue($op['sub'], $op['subscribe'])];
        }
    } catch (Throwable $e) {
        $out = fail_of($e);
    }
    echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
}
